"""Intent classification: data checks, training, calibration, serving."""
