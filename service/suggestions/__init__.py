"""The ranker's answers for one participant, as faces: the suggestions API and `koble suggest`.

A face above profiles and matching (docs/architecture.md): it names participants (profiles) and ranks
them (matching), so it belongs to neither.
"""
