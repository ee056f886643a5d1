"""The API endpoints that read several apps: caller-ID lookup, export, erasure, the card."""
