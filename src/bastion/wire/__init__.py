"""OpenAI wire formats ⇄ the normalised ``Conversation``; SSE; provider dialects."""
