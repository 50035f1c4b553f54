"""One keyring: pseudonym, fingerprint, signing and content keys."""
