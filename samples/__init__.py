"""Sample cases (synthetic data only). An installed plitool ships the QuickRide case and the demo TSA
as plitool.samples, for 'plitool demo'."""
