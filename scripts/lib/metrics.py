"""metrics.py — sums of peertrackd /metrics series over several daemons on
127.0.0.1, for the bench scripts:

    python3 scripts/lib/metrics.py PORT... -- PREFIX...

prints one integer per PREFIX: the sum over the daemons of every line that
starts with it (so a name alone adds up its labelled series)."""
import sys
import urllib.request


def sums(ports, prefixes):
    out = [0] * len(prefixes)
    for port in ports:
        url = "http://127.0.0.1:%s/metrics" % port
        for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
            for i, p in enumerate(prefixes):
                if line.startswith(p):
                    out[i] += int(float(line.split()[-1]))
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    cut = args.index("--")
    print(*sums(args[:cut], args[cut + 1:]))
