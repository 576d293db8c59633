"""Evaluation: measure the face models on data the owner supplies and publish the result.

`metrics/`-style modules (`rate`, `scores`, `open_set`, `groups`, `boxes`) are pure numpy; the
protocol modules (`verification`, `identification`, `demographics`, `detection`) run the real
models over a dataset and return JSON-ready results; `report` and `model_card` write them out.
"""
