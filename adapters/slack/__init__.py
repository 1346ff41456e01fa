"""Slack: Block Kit posts, buttons, reactions, threads and ``/prikbord`` through slack-bolt and slack_sdk.

``translate`` (and ``mrkdwn``, ``emoji``) are pure; ``adapter`` holds the I/O. Import
``adapters.slack.adapter.SlackAdapter``; this package itself imports nothing so the pure half loads
without the SDKs.
"""
