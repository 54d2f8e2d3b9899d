// clawdbot imports node-llama-cpp lazily, for local memory-search embeddings only; the interop
// suite turns memory search off. Throwing here makes an unexpected use fail loudly.
export function getLlama() {
  throw new Error('node-llama-cpp stub: local embeddings are not available in the interop suite');
}
export const LlamaLogLevel = {};
export function resolveModelFile() {
  throw new Error('node-llama-cpp stub: local embeddings are not available in the interop suite');
}
