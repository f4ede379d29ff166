"""Personal data in evidence: extract text, detect values, normalise, fingerprint, mask.

The pipeline, one module per step:

* :mod:`.extract` turns a file (PDF, DOCX, XLSX, CSV/TSV, JSON/JSONL, HAR, e-mail, text) into
  text units and tables, each with a precise location;
* :mod:`.detect` finds values in them (validators from ``phonenumbers`` and ``python-stdnum``;
  headers and labels for the fields no validator can recognise);
* :mod:`.normalize` puts each value in one canonical form, so that the same value found twice
  compares equal;
* :mod:`.fingerprint` turns a normalised value into a keyed BLAKE3 digest under the case key;
* :mod:`.mask` is the one masking function every output uses (Chinese court conventions);
* :mod:`.scan` ties them together for evidence items.

Nothing here prints, logs or stores a raw value; callers get masks and fingerprints, and the raw
value only from :attr:`.detect.Match.raw` when they have a logged reason to show it.
"""
