// classify-file BACKBONE PACK AUDIO [TOP_K]
//
// Loads a backbone (a Hugging Face model folder or a converted file) and an IPET pack, classifies one audio file
// exactly as `ipet predict` does (decoding, resampling, windows averaged), and prints the best labels with scores.
import Foundation
import IPET

let arguments = CommandLine.arguments
guard (4...5).contains(arguments.count) else {
    FileHandle.standardError.write(Data("usage: classify-file BACKBONE PACK AUDIO [TOP_K]\n".utf8))
    exit(2)
}
let topK = arguments.count == 5 ? Int(arguments[4]) ?? 3 : 3
do {
    // The backbone is loaded once and shared; a pack is a small value on top of it (load more for more tasks).
    let backbone = try Backbone.load(arguments[1])
    let task = try TaskModel(backbone: backbone, pack: try AdapterPack(path: arguments[2]))
    // The same runner `ipet predict` uses: decoding on its own thread, windows of the model's input length.
    let runner = try BatchRunner(backbone: backbone, tasks: [task])
    var status: Int32 = 0
    runner.run([InputItem(path: arguments[3])]) { result in
        let answer = result.answers[0]
        guard let scores = answer.scores else {
            FileHandle.standardError.write(Data("error: \(arguments[3]): \(answer.error.map { "\($0.detail)" } ?? "no scores")\n".utf8))
            status = 1
            return
        }
        for index in ScoreRanking.order(scores).prefix(topK) {
            print("\(task.labels[index])\t\(scores[index])")
        }
    }
    exit(status)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
