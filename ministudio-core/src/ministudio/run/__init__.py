"""Running the plan: executors, the content store, the manifest."""
