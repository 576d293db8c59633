"""Model wrappers. Each module wraps one model file shipped inside an installed package."""
