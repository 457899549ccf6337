"""Parsers for bytes that users upload: PDFs (``pdf``), Excel workbooks (``xlsx``), both run through
``sandbox`` so that a hostile file can exhaust only a short-lived child process, never a worker."""
