import { AvatarError } from '../core/errors.js';
import { EVAL_HELP } from './eval-help.js';

const HELP = `avatar: make an avatar speak (text or audio in, lip-synced talking-head video out)

Usage:
  avatar say TEXT [options]          render TEXT to an MP4
  avatar say --text-file FILE [...]  render the text in FILE
  avatar say --audio FILE [options]  lip-sync an avatar to an audio file
  avatar prepare PHOTO|VIDEO|FOLDER  make avatars from a photo, a video, or every file in a folder
  avatar prepare --model FILE --contract NAME [--audio-encoder FILE] AVATAR|FOLDER|PHOTO|VIDEO
                                     attach a neural lip-sync model (renderer onnx)
  avatar model init --contract NAME -o FILE [--size tiny|real] [--known-answer|--audio-encoder]
                                     write a model with a contract's inputs and random weights
  avatar features --contract NAME AUDIO -o FILE.npy [--fps N]
                                     write the audio tensors a model of that contract receives
  avatar list                        list avatars (prepared and built in)
  avatar voices [--lang CODE]        list TTS voices
  avatar eval [options]              measure latency and lip sync; HTML + JSON report
  avatar serve [--host H] [--port N] [--config FILE]
                                     HTTP API, streaming, realtime sessions, web page
  avatar serve --role inference|compositing [--config FILE] [--port N] [--avatars-dir DIR]
                                     seed 002's gRPC inference (:50051) or compositing (:50052)
                                     service (proto/*.proto), configured by a YAML file
  avatar worker [--config FILE] [--concurrency N] [--avatars-dir DIR]
                                     render queued jobs from Redis (REDIS_URL or redis.url)
  avatar --help | --version

say options:
  -o, --output FILE     output MP4 (default: avatar.mp4)
  --lang CODE           auto (default: detected from the text) or any language espeak-ng
                        speaks: en, es, zh, ja, ko, ar, hi, el, pl, ... (see avatar voices)
  --voice ID            TTS voice (see: avatar voices)
  --rate X              speaking rate multiplier (default 1)
  --pitch N             pitch 0..100 (default 50)
  --avatar ID           avatar (default: the built-in drawn avatar "default"; see: avatar list)
  --audio FILE          speak this audio (any format ffmpeg reads) instead of text
  --avatars-dir DIR     prepared avatars (default: $AVATAR_HOME, else ./avatars)
  --fps N               frames per second (default 25)
  --size N|WxH          frame size (default: the avatar's own; built-in 512)
  --encoder NAME        force an H.264 encoder (default: fastest that works here)
  --tts NAME            espeak (default, built in) or openai (AVATAR_TTS_BASE_URL, AVATAR_TTS_API_KEY)
  --audio-out FILE      also write the speech as WAV
  --json                print timings as JSON on stdout
  -q, --quiet           no progress output

prepare options:
  --name NAME           avatar name (id: lowercase letters, digits, _ or -); default: the file name
  --fps N               frames taken per second of video (default 25)
  --quality N           JPEG quality of stored frames, 1-100 (default 90)
  --start S, --duration S   cut of the video (seconds or hh:mm:ss)
  --workers N           avatars prepared in parallel for a folder (default 1)
  --force               redo an avatar that exists (default: skip it and say so), and make
                        one from a source that fails the quality gates (turned or tilted
                        head, unsure mouth landmarks, face too small), with a warning
  --crop auto|face|none frame a talking head around the face (auto: when the face is small)
  --output-json FILE    frames, bytes and time per avatar
  --avatars-dir DIR     where avatars are written (default: $AVATAR_HOME, else ./avatars)

${EVAL_HELP}
serve options (also AVATAR_HOST, AVATAR_PORT, AVATAR_API_KEYS=key:tenant,..., AVATAR_DATA_DIR,
AVATAR_SIGNING_SECRET, AVATAR_RATE_LIMIT, AVATAR_JOB_CONCURRENCY, REDIS_URL, AVATAR_REDIS_PREFIX;
flags win over env over file):
  --host H              listen address (default 127.0.0.1; without API keys always loopback)
  -p, --port N          port (default 8000)
  -c, --config FILE     YAML configuration (see README: Serving)
  --avatars-dir DIR     prepared avatars served, uploads prepared here (default: $AVATAR_HOME, else ./avatars)

Neural models (renderer onnx; contracts wav2lip96, ultralight160, seed320): MAX_BATCH_SIZE
(frames per inference batch, default 8), AVATAR_ONNX_PROVIDER=auto|cpu|cuda (auto: CUDA when
its provider is installed).

Environment: AVATAR_FFMPEG (ffmpeg binary), AVATAR_ENCODER, AVATAR_TTS, AVATAR_TTS_BASE_URL,
AVATAR_TTS_API_KEY, AVATAR_TTS_MODEL, AVATAR_TTS_VOICE, AVATAR_HOME (avatars folder).
`;

/** Runs the `avatar` command line; resolves to the process exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return command === undefined ? 2 : 0;
      case '-v':
      case '--version':
        process.stdout.write(`${await version()}\n`);
        return 0;
      // Commands load on demand: `say` does not pay for the server, the face model or the evaluator.
      case 'say':
        return await (await import('./say-command.js')).runSay(rest);
      case 'voices':
        return await (await import('./voices-command.js')).runVoices(rest);
      case 'prepare':
        return await (await import('./prepare-command.js')).runPrepare(rest);
      case 'model':
        return await (await import('./model-command.js')).runModel(rest);
      case 'features':
        return await (await import('./features-command.js')).runFeatures(rest);
      case 'list':
        return await (await import('./list-command.js')).runList(rest);
      case 'eval':
        return await (await import('./eval-command.js')).runEval(rest);
      case 'serve':
        return await (await import('./serve-command.js')).runServeWithAvatars(rest);
      case 'worker':
        return await (await import('./worker-command.js')).runWorker(rest);
      default:
        throw new AvatarError('invalid_input', `unknown command "${command}" (see: avatar --help)`);
    }
  } catch (e) {
    return reportError(e);
  }
}

/** Prints an error for a person and returns the exit status that goes with it. */
export function reportError(e: unknown): number {
  if (e instanceof AvatarError) {
    process.stderr.write(`avatar: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof TypeError && 'code' in e && String((e as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`avatar: ${e.message} (see: avatar --help)\n`);
    return 2;
  }
  process.stderr.write(`avatar: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
