"""libvirt's XML formats as typed models: parse with a hardened parser, format canonically.

``xmlparse`` (hardened lxml parsing), ``xmlmodel`` (the declarative mapping),
``xmlwriter`` (libvirt's output style), then one module per document type:
``domain``, ``network``, ``storage``, ``capabilities``, ``snapshot``,
``secret``, ``nodedev``, ``interface``.
"""
