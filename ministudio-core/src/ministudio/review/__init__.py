"""Review and delivery: the review page people decide on (``page``, ``serve``), the
decisions it writes (``decisions``, read by ``render --review``), and the timelines an
editor opens (``export``)."""
