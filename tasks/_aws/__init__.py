"""Implementations of the core's ports (`retrain.ports`) on AWS services, one module per service."""
