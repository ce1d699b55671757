"""The Rasa NLU component that adds the rule-based spaCy entities (see bot.nlu.extract) to each message."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.extract import extract_entities


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ProcurementEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Money amounts, dates and windows, buyer types, categories, regions and glossary terms, normalized.

    Nothing is trained: the spaCy pipeline is built from the project's pattern files when the component is
    created (the Rasa server's start), so an edit to a knowledge table's terms needs a restart, not a retrain.
    Building it then rather than on the first message took ~0.5 s off the first reply after a start
    (py-spy; bench/bench_serving.py). A broken table gives no terms rather than an error (extract._table_terms).
    """

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ProcurementEntityExtractor":
        from bot.nlu.extract import default_extractor

        default_extractor()
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            found = self.add_extractor_name([e.as_rasa() for e in extract_entities(text)])
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages
