"""Generators for ONNX model directories with the exact Supertonic 2 interface."""
