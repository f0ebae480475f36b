"""Triggers: webhooks and schedules that start workflow runs from durable events.

``flowscope serve CONFIG.yml`` hosts the triggers of a config file (:mod:`.config`): webhook
deliveries are verified (:mod:`.signature`), mapped to inputs (:mod:`.mapping`), stored in the run
store's trigger-event queue and answered 202 (:mod:`.app`); schedule slots are enqueued by
:mod:`.schedule`; workers (:mod:`.worker`) run each event through :mod:`.delivery`.
"""
