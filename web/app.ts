import { RealtimeClient } from '../src/client/realtime-client.js';
import type { ServerEvent } from '../src/client/protocol.js';
import { MicrophoneCapture } from './microphone.js';
import { RealtimePlayer, type PlayerStats } from '../src/client/realtime-player.js';
import { StreamPlayer } from './stream-player.js';
import { WebRtcView } from './webrtc-view.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const canvas = $<HTMLCanvasElement>('canvas');
const video = $<HTMLVideoElement>('video');
const avatarSelect = $<HTMLSelectElement>('avatar');
const modeSelect = $<HTMLSelectElement>('mode');
const languageSelect = $<HTMLSelectElement>('language');
const textArea = $<HTMLTextAreaElement>('text');
const keyInput = $<HTMLInputElement>('key');
const micButton = $<HTMLButtonElement>('mic');
const errorLine = $('error');
const stateLine = $('state');

const audio = new AudioContext();
const player = new RealtimePlayer(canvas, audio);
const stream = new StreamPlayer(video);
let client: RealtimeClient | undefined;
let firstFrameMs: number | undefined;
let events: ServerEvent[] = [];
const mic = new MicrophoneCapture(audio, (pcm) => client?.sendAudio(pcm));

function onEvent(e: ServerEvent): void {
  events.push(e);
  if (events.length > 200) events = events.slice(-100);
  if (e.type === 'error') showError(e.message);
  if (e.type === 'speech.ended' && e.reason === 'interrupted') player.stopAudioFrom(e.ptsMs);
  if (e.type === 'speech.started') {
    stateLine.textContent = 'speaking';
    // Over WebRTC the page sees the speech start, not the frame: the browser plays both.
    if (modeSelect.value === 'webrtc' && speakAskedAt !== undefined) firstFrameMs ??= Math.round(performance.now() - speakAskedAt);
  }
  if (e.type === 'speech.ended') stateLine.textContent = 'listening';
}

const rtc = new WebRtcView(video, onEvent, () => (stateLine.textContent = 'disconnected'));
let speakAskedAt: number | undefined;

/** What tests and curious users can read from the console. */
const state = {
  get stats(): PlayerStats & { firstFrameMs: number | undefined; connected: boolean; events: ServerEvent[]; transport: string; webrtc: WebRtcView['latest'] } {
    return { ...player.stats, firstFrameMs, connected: client !== undefined || rtc.connected, events, transport: modeSelect.value, webrtc: rtc.latest };
  },
  webrtcStats: () => rtc.stats(),
};
(window as unknown as { avatarApp: typeof state }).avatarApp = state;

keyInput.value = localStorage.getItem('avatar-api-key') ?? '';
keyInput.addEventListener('change', () => {
  localStorage.setItem('avatar-api-key', keyInput.value);
  void start();
});

function headers(): Record<string, string> {
  return keyInput.value ? { authorization: `Bearer ${keyInput.value}` } : {};
}

function showError(message: string): void {
  errorLine.textContent = message;
}

async function loadAvatars(): Promise<void> {
  const response = await fetch('/api/v1/avatars', { headers: headers() });
  const body = (await response.json()) as { avatars?: { id: string; name: string; status: string }[]; message?: string };
  if (!response.ok) throw new Error(body.message ?? `cannot list avatars (${response.status})`);
  const current = avatarSelect.value;
  avatarSelect.replaceChildren(...body.avatars!.filter((a) => a.status === 'ready').map((a) => new Option(`${a.name} (${a.id})`, a.id)));
  if (current) avatarSelect.value = current;
}

/** Opens the session of the current mode; WebRTC falls back to the WebSocket when it cannot connect. */
async function connect(): Promise<void> {
  if (modeSelect.value !== 'webrtc') return connectWebSocket();
  client?.close();
  client = undefined;
  stateLine.textContent = 'connecting…';
  try {
    await rtc.connect(avatarSelect.value || 'default', headers());
    stateLine.textContent = 'listening';
  } catch (e) {
    showError(`WebRTC unavailable (${(e as Error).message}): playing over the WebSocket instead`);
    modeSelect.value = 'realtime';
    showMode();
    await connectWebSocket();
  }
}

async function connectWebSocket(): Promise<void> {
  rtc.close();
  client?.close();
  client = undefined;
  player.reset();
  const url = new URL('/api/v1/realtime', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('avatar', avatarSelect.value || 'default');
  if (keyInput.value) url.searchParams.set('api_key', keyInput.value);
  stateLine.textContent = 'connecting…';
  const opened = await RealtimeClient.connect(url.href, {
    onFrame: (f) => void player.addFrame(f.ptsMs, f.speaking, f.jpeg, f.patch),
    onAudio: (a) => player.addAudio(a.ptsMs, a.sampleRate, a.pcm),
    onEvent,
    onClose: () => {
      if (client === opened) {
        client = undefined;
        stateLine.textContent = 'disconnected';
      }
    },
  });
  client = opened;
  stateLine.textContent = 'listening';
}

async function start(): Promise<void> {
  showError('');
  try {
    await loadAvatars();
    if (modeSelect.value !== 'stream') await connect();
  } catch (e) {
    showError((e as Error).message);
  }
}

/** Shows the canvas (WebSocket frames) or the video element (WebRTC, MSE stream). */
function showMode(): void {
  canvas.hidden = modeSelect.value !== 'realtime';
  video.hidden = modeSelect.value === 'realtime';
  micButton.disabled = modeSelect.value === 'stream';
}

function setMode(): void {
  showMode();
  if (modeSelect.value !== 'stream') {
    stream.stop();
    void connect().catch((e: Error) => showError(e.message));
  } else {
    rtc.close();
    client?.close();
    client = undefined;
    player.reset();
  }
}

async function speakClicked(): Promise<void> {
  showError('');
  void audio.resume();
  const text = textArea.value.trim();
  if (!text) return showError('type something to say');
  const asked = performance.now();
  firstFrameMs = undefined;
  if (modeSelect.value === 'stream') {
    try {
      firstFrameMs = Math.round(await stream.play({ text, language: languageSelect.value, avatar: avatarSelect.value }, headers()));
    } catch (e) {
      showError((e as Error).message);
    }
    return;
  }
  if (modeSelect.value === 'webrtc') {
    speakAskedAt = asked;
    if (!rtc.connected) await connect().catch((e: Error) => showError(e.message));
    if (modeSelect.value === 'webrtc') return rtc.speak(text, languageSelect.value);
  }
  if (!client) await connect().catch((e: Error) => showError(e.message));
  player.onSpeakingFrame = (at) => (firstFrameMs = Math.round(at - asked));
  client?.speak(text, { language: languageSelect.value });
}
$('speak').addEventListener('click', () => void speakClicked());

$('interrupt').addEventListener('click', () => {
  // The stream player shares the <video> element with WebRTC: stopping it pauses the video.
  if (modeSelect.value === 'stream') stream.stop();
  rtc.interrupt();
  client?.interrupt();
  player.stopAudioFrom(player.clockMs());
});

async function micClicked(): Promise<void> {
  void audio.resume();
  if (modeSelect.value === 'webrtc') {
    try {
      micButton.classList.toggle('active', await rtc.toggleMicrophone());
    } catch (e) {
      showError(`microphone: ${(e as Error).message}`);
    }
    return;
  }
  if (mic.active) {
    mic.stop();
    client?.endAudio();
    micButton.classList.remove('active');
    return;
  }
  if (!client) return showError('not connected');
  try {
    client.startAudio({ sampleRate: 16000, echo: false });
    await mic.start();
    micButton.classList.add('active');
  } catch (e) {
    client.endAudio();
    showError(`microphone: ${(e as Error).message}`);
  }
}
micButton.addEventListener('click', () => void micClicked());

avatarSelect.addEventListener('change', () => {
  client?.switchAvatar(avatarSelect.value);
  rtc.switchAvatar(avatarSelect.value);
});
modeSelect.addEventListener('change', setMode);

const shown = (value: number | undefined, digits = 0) => (value === undefined ? '–' : value.toFixed(digits));
setInterval(() => {
  $('first-frame').textContent = shown(firstFrameMs);
  if (modeSelect.value === 'webrtc') {
    const s = rtc.latest;
    $('fps').textContent = shown(s?.fps);
    $('sync').textContent = shown(s?.avSyncMs);
    $('rtt').textContent = shown(s?.rttMs);
    $('bitrate').textContent = shown(s?.videoKbps !== undefined ? s.videoKbps + (s.audioKbps ?? 0) : undefined);
    return;
  }
  const s = player.stats;
  $('fps').textContent = modeSelect.value === 'realtime' ? String(s.fps) : '–';
  $('sync').textContent = s.speakingFramesDrawn ? (s.videoLateMs - s.audioLateMs).toFixed(0) : '–';
  $('rtt').textContent = '–';
  $('bitrate').textContent = '–';
}, 250);

// ?mode=realtime (WebSocket), webrtc or stream picks the starting mode; WebRTC by default.
const requestedMode = new URLSearchParams(location.search).get('mode');
if (requestedMode && [...modeSelect.options].some((o) => o.value === requestedMode)) modeSelect.value = requestedMode;
showMode();
void start();
