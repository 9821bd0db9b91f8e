"""Pure domain rules (plan curves, work days, region paths, distances, photo hashes): no database, no I/O.

Every module here imports only the standard library, pure third-party libraries and `kotaku.models.enums`;
settings are passed in as plain values or any object with the attributes a function reads.
"""
