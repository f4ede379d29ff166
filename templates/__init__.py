"""Document templates (reviewable text), shipped inside the package as plitool.templates."""
