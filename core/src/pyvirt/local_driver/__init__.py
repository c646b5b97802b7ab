"""Plugin-facing building blocks for drivers that run guests on this host (qemu, lxc, ...).

Where a driver keeps its files (:mod:`.paths`), its per-domain status files
(:mod:`.status_file`) and its table of domains with libvirt's define/lookup
rules (:mod:`.domain_table`). They live in core because plugins may not
import each other, and every local hypervisor driver needs the same rules.
"""
