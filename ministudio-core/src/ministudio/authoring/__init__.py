"""Writing productions: from a Fountain screenplay (``fountain``, ``screenplay``), from a brief
by a writer engine (``storyboard``), and drawing the cast's reference images (``cast``)."""
