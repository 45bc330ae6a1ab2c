"""The assistant-médical aid convention: events, rules and the application service.

Pure: nothing here touches a particular store, the web, the scheduler or the CLI.
"""
