"""The `ember` command: `serve` runs the server; every other command is a client of the
HTTP API, as any AWS tool would be. Imports `server` and `config` (serve only) and
`control.codezip` (to package a folder); everything else goes over HTTP."""
