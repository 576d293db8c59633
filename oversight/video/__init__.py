"""Video: stored-video jobs, live stream processors, frame sources, trackers and event sinks.

The domain core knows nothing of HTTP, auth or audit: the operations layer hands it the
callables it needs (collection search, audit of matches) and shapes its results for the API.
"""
