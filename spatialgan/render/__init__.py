"""Rendering tools on top of trained generators: SSN block resampling, overlays."""
