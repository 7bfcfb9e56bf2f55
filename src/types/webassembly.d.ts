// The part of the WebAssembly JavaScript API this project uses (Node 20 has it all; the
// TypeScript lib that declares it is the DOM one, which the server build leaves out).
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: object);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
