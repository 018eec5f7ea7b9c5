"""SMPP 3.4's rules, sans-IO: addresses, body encoding and splitting, validity periods, delivery
receipts, command_status outcomes and the reassembly of long handset messages.

Facts: shared/carriers/smpp-facts.md. Each module stands alone and is imported by name
(`from textrelay.domain.smpp.encoding import split_for_submit`); this package re-exports nothing,
so importing one rule loads no other.
"""
