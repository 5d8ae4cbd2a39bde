"""BIO encoding/decoding, document-level inference, strict span scoring."""
