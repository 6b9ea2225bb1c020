// The library product: `import IPET` gives the whole engine (backbones, packs, batch inference, metrics, speaker
// verification) and the layers below it (models, audio, file formats, tensors). See README "Use it from Swift".
@_exported import IPETAudio
@_exported import IPETEngine
@_exported import IPETFormats
@_exported import IPETModels
@_exported import IPETTensor
