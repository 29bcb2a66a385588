"""Email: what each email says (catalog), how it is rendered (render), built into a MIME message
(message), and how it leaves (transports)."""
