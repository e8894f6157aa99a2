"""Pieces of tools/density (issue 20): the JSON-RPC client, /proc and KSM sampling, the console-log
watch that timestamps readiness texts, the `virsh start` baseline and the report with its plots."""
