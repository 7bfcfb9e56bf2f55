/** Help text of `avatar eval` (kept apart so `avatar --help` loads nothing else). */
export const EVAL_HELP = `eval options:
  --suite NAME|FILE     default (built in, the full suite), quick (CI), real (real people,
                        from the media folder), or a suite JSON file
  --out DIR             report folder: report.json, index.html, videos/ (default: eval-report)
  --json                print the JSON report on stdout
  --gold FILE           hold the run to these expected figures (default: the suite's gold file)
  --no-gold             do not compare with any gold file
  --write-gold FILE     write this run's figures as a new gold file
  --avatars-dir DIR     prepared avatars the suite names (default: OUT/avatars); the
                        fixture avatars "photo" and "video" are built there when missing
  --audio-dir DIR       evaluate the avatar speaking each WAV in DIR (alone, or with --suite added)
  --media DIR           media folder of the real suite (default: ../shared/media)
  --video FILE [--mouth x,y,w,h] score any talking-head video (the mouth is found by the
                        face mesh; --mouth gives its box in pixels instead)
  --compare A.json B.json        print and plot the differences; exit 1 on a regression
`;
