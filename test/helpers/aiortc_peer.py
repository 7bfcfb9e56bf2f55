"""A WebRTC peer written with aiortc (another implementation than the server's): it offers
to receive video and audio, negotiates through the WHEP-style route, opens the control data
channel, asks the avatar to speak, and reports what it decoded as one JSON line.

usage: aiortc_peer.py URL CODEC SECONDS TEXT [API_KEY]
"""
import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription


async def main(url, codec, seconds, text, key):
    pc = RTCPeerConnection()
    video = pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.upper() == "VIDEO/" + codec])
    channel = pc.createDataChannel("control")
    report = {"videoFrames": 0, "width": 0, "height": 0, "audioFrames": 0, "events": [], "mouth": [], "audio": []}
    t0 = time.monotonic()

    async def read_video(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            report["videoFrames"] += 1
            report["width"], report["height"] = frame.width, frame.height
            y = frame.to_ndarray(format="gray")
            h, w = y.shape
            # The mouth of the built-in avatar: the lower middle of the picture.
            mouth = y[int(h * 0.55):int(h * 0.85), int(w * 0.3):int(w * 0.7)]
            report["mouth"].append([round(time.monotonic() - t0, 3), round(float(mouth.astype(np.float32).std()), 3)])

    async def read_audio(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            report["audioFrames"] += 1
            pcm = frame.to_ndarray().astype(np.float32)
            report["audio"].append([round(time.monotonic() - t0, 3), round(float(np.sqrt((pcm ** 2).mean())), 1)])

    @pc.on("track")
    def on_track(track):
        asyncio.ensure_future(read_video(track) if track.kind == "video" else read_audio(track))

    @channel.on("message")
    def on_message(message):
        if isinstance(message, str):
            event = json.loads(message)
            event["at"] = round(time.monotonic() - t0, 3)
            report["events"].append(event)

    @channel.on("open")
    def on_open():
        async def speak():
            await asyncio.sleep(1.0)
            channel.send(json.dumps({"type": "speak", "text": text, "id": "u1"}))
        asyncio.ensure_future(speak())

    await pc.setLocalDescription(await pc.createOffer())
    headers = {"content-type": "application/sdp"}
    if key:
        headers["authorization"] = "Bearer " + key
    request = urllib.request.Request(url, data=pc.localDescription.sdp.encode(), headers=headers, method="POST")
    answer = await asyncio.get_event_loop().run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=20))
    report["status"] = answer.status
    report["location"] = answer.headers.get("location")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.read().decode(), type="answer"))
    await asyncio.sleep(seconds)
    report["deleteStatus"] = await asyncio.get_event_loop().run_in_executor(None, lambda: delete(url, report["location"], key))
    report["deleteAgainStatus"] = await asyncio.get_event_loop().run_in_executor(None, lambda: delete(url, report["location"], key))
    await pc.close()
    print(json.dumps(report))


def delete(url, location, key):
    target = urllib.parse.urljoin(url, location)
    request = urllib.request.Request(target, headers={"authorization": "Bearer " + key} if key else {}, method="DELETE")
    try:
        return urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2].upper(), float(sys.argv[3]), sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else ""))
