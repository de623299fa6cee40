"""What may leave the machine, and what never appears: keys, blanked text, pixel-only images."""
