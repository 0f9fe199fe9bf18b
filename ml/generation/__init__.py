"""Answer generation: an OpenAI-compatible streaming client, the versioned prompt, and guards.

``client`` talks to any OpenAI-compatible server (vLLM is the one shipped); ``prompt`` builds the
numbered-passage prompt; ``guards`` holds the deterministic prompt-injection defences and the
post-checks (citations, links, system-prompt leaks) applied to what the model wrote.
"""
