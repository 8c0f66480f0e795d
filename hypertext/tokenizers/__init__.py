from hypertext.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer

__all__ = ["SentencePieceTokenizer"]
