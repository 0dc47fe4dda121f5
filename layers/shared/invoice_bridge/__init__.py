"""invoice-bridge: the office's back end between Spiris and the buyers of its issuers."""
