package casegate

// The man pages in man/ are generated from README.md.
//go:generate go run ./internal/mangen -readme README.md -out man
