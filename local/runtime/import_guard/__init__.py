"""The folder put first on a managed script's `PYTHONPATH`: its `sitecustomize` installs the import guard."""
