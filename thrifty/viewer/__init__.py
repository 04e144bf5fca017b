"""``thrifty view``: one self-contained HTML page for a run trace or an eval log (or two of either,
side by side), written to a file or served on loopback. No network, no CDN: styles, script and
charts (SVG drawn here) are inline, and every string from a model, tool or task is escaped."""
