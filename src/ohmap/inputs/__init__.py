"""A user's inputs as a whole: checked before any job runs (:mod:`~ohmap.inputs.checks`), and
found in a folder of data to write a first sample sheet and configuration from
(:mod:`~ohmap.inputs.scan`, :mod:`~ohmap.inputs.project`, behind ``ohmap init``)."""
