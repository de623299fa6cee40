"""From a production to jobs: routing, timing, briefs, requests, the job graph and its cost."""
