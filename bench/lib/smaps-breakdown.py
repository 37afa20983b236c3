#!/usr/bin/env python3
"""smaps-breakdown.py PID [INTERVAL_S COUNT] — where an ASan process's resident memory is: its
shadow, ASan's primary allocator region (the heap: blocks in use, the quarantine and free chunks
per size class), other anonymous memory (large blocks, thread stacks, ASan's internal allocator:
stack depot, fake stacks) and file-backed pages. One line per sample, in KiB. Used by
bench/soak.sh to say which part of an ASan palaverd's RSS moves (docs/performance.md "Soak")."""
import sys, time

SHADOW_END = 0x10007FFF8000          # x86_64 ASan: low shadow, gap and high shadow lie below
PRIMARY = (0x600000000000, 0x640000000000)  # kAllocatorSpace, kAllocatorSize (x86_64 Linux)


def sample(pid):
    parts = {"shadow": 0, "primary": 0, "other_anon": 0, "file": 0}
    cat = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                start = int(head[0].split("-")[0], 16)
                path = head[5] if len(head) > 5 else ""
                if start < SHADOW_END:
                    cat = "shadow"
                elif PRIMARY[0] <= start < PRIMARY[1]:
                    cat = "primary"
                elif path.startswith("/"):
                    cat = "file"
                else:
                    cat = "other_anon"
            elif head[0] == "Rss:":
                parts[cat] += int(head[1])
    return parts


def main():
    pid = int(sys.argv[1])
    interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    t0 = time.monotonic()
    for i in range(count):
        try:
            p = sample(pid)
        except (FileNotFoundError, ProcessLookupError):
            return
        print(f"smaps t_s={time.monotonic() - t0:.0f} " + " ".join(f"{k}_kb={v}" for k, v in p.items()), flush=True)
        if i + 1 < count:
            time.sleep(interval)


if __name__ == "__main__":
    main()
