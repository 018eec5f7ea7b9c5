"""The SMPP 3.4 carrier (docs/carriers.md): bind.py keeps a connection bound, carrier.py
turns messages into submit_sm and what comes back into receipts and handsets' messages."""
