#!/usr/bin/env python3
"""tcp_proxy.py: a TCP forwarder standing in for the network path to PostgreSQL, so a test
can take the database away and bring it back. HTTP control on --port: GET /__health,
POST /__down (close every forwarded connection and refuse new ones), POST /__freeze (keep
every connection open but forward nothing, new ones included: a database that stopped
answering), POST /__up (back to normal; held bytes flow on).
Usage: tcp_proxy.py --port CONTROL --listen LISTEN_PORT --target HOST:PORT"""
import argparse
import asyncio


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--target", required=True)
    a = ap.parse_args()
    thost, tport = a.target.rsplit(":", 1)
    state = {"up": True, "frozen": False, "conns": set()}

    async def thaw():
        while state["frozen"]:
            await asyncio.sleep(0.02)

    async def pipe(r, w):
        try:
            while True:
                data = await r.read(65536)
                if not data:
                    break
                await thaw()
                w.write(data)
                await w.drain()
        except Exception:
            pass
        finally:
            w.close()

    async def forward(cr, cw):
        if not state["up"]:
            cw.close()
            return
        await thaw()
        try:
            tr, tw = await asyncio.open_connection(thost, int(tport))
        except Exception:
            cw.close()
            return
        state["conns"].add(cw)
        state["conns"].add(tw)
        await asyncio.gather(pipe(cr, tw), pipe(tr, cw))
        state["conns"].discard(cw)
        state["conns"].discard(tw)

    async def control(r, w):
        line = (await r.readline()).decode("latin-1")
        while (await r.readline()) not in (b"\r\n", b"\n", b""):
            pass
        parts = line.split()
        path = parts[1] if len(parts) > 1 else "/"
        if path == "/__freeze":
            state["frozen"] = True
        elif path == "/__down":
            state["up"] = False
            for c in list(state["conns"]):
                c.close()
        elif path == "/__up":
            state["up"] = True
            state["frozen"] = False
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await w.drain()
        w.close()

    s1 = await asyncio.start_server(forward, "127.0.0.1", a.listen)
    s2 = await asyncio.start_server(control, "127.0.0.1", a.port)
    async with s1, s2:
        await asyncio.gather(s1.serve_forever(), s2.serve_forever())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
