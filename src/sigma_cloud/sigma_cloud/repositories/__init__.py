"""Data access, one module per resource (as open-rmf/rmf-web's api-server does): every SQL statement the API runs
lives here; routes only translate HTTP to these calls and rows to response models. Functions take the caller's
connection (already inside its RLS-scoped transaction) and keyword-only arguments; they return plain rows."""
