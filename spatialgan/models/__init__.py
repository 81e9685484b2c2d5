"""One package per model (stylegan2, ssn, cips, scaleparty), each exporting a ModelSpec (see interface)."""
