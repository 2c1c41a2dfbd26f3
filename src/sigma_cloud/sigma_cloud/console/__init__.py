"""Fleet console: a web page for fleet managers and operators served by the API itself (docs/console.md)."""
